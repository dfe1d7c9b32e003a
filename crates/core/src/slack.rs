//! Slack Block Kit messages for notifications and CloudWatch alarms. Pure: the forwarder
//! posts what this builds, and the snapshot tests pin it.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::notification::{FailureType, InstanceSummary, Notification, NotificationEvent};
use crate::ports::Lifecycle;
use crate::pricing;

/// Links shown as buttons when configured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    pub dashboard_url: Option<String>,
    pub logs_url: Option<String>,
}

/// A CloudWatch alarm state change, as CloudWatch publishes it to SNS.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmMessage {
    pub alarm_name: String,
    #[serde(default)]
    pub alarm_description: Option<String>,
    pub new_state_value: String,
    #[serde(default)]
    pub old_state_value: Option<String>,
    #[serde(default)]
    pub new_state_reason: Option<String>,
    #[serde(default)]
    pub state_change_time: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
}

fn emoji(event: &NotificationEvent) -> &'static str {
    match event {
        NotificationEvent::ScaleUpStarted { .. } | NotificationEvent::ScaleUpCompleted { .. } => "🟢",
        NotificationEvent::ScaleDownStarted { .. } | NotificationEvent::ScaleDownCompleted { .. } => "🔵",
        NotificationEvent::ScalingFailure { .. } => "🔴",
        NotificationEvent::AtMaxCapacity { .. } | NotificationEvent::CapacityFallback { .. } => "⚠️",
        NotificationEvent::SpotInterruption { .. } => "🟠",
    }
}

fn title(event: &NotificationEvent) -> String {
    match event {
        NotificationEvent::ScaleUpStarted { from_nodes, to_nodes, .. } => {
            format!("Scaling up: {from_nodes} → {to_nodes} nodes")
        }
        NotificationEvent::ScaleUpCompleted { instances, .. } => {
            format!("Scale-up completed: +{} node{}", instances.len(), plural(instances.len()))
        }
        NotificationEvent::ScaleDownStarted { from_nodes, to_nodes, .. } => {
            format!("Scaling down: {from_nodes} → {to_nodes} nodes")
        }
        NotificationEvent::ScaleDownCompleted { .. } => "Scale-down completed: −1 node".to_string(),
        NotificationEvent::CapacityFallback { .. } => "Spot capacity unavailable: fell back to On-Demand".to_string(),
        NotificationEvent::ScalingFailure { error_type, .. } => format!("Scaling failure: {}", error_type.as_str()),
        NotificationEvent::AtMaxCapacity { node_count, .. } => format!("At maximum capacity ({node_count} nodes)"),
        NotificationEvent::SpotInterruption { .. } => "Spot interruption".to_string(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn instance_line(i: &InstanceSummary) -> String {
    let lifecycle = match i.lifecycle {
        Lifecycle::Spot => "Spot",
        Lifecycle::OnDemand => "On-Demand",
    };
    format!("`{}` {} {} in {}", i.instance_id, i.instance_type, lifecycle, i.availability_zone)
}

/// `(reason, action, recommendation)` lines and the node total, where the event has them.
fn details(event: &NotificationEvent) -> (Option<String>, Option<String>, Option<String>, Option<u32>, Option<f64>) {
    match event {
        NotificationEvent::ScaleUpStarted { reasons, from_nodes, to_nodes, .. } => {
            let added = to_nodes.saturating_sub(*from_nodes);
            let cost = pricing::per_day("t3.small", Lifecycle::OnDemand).map(|p| p * f64::from(added));
            (
                Some(reasons.join("\n")),
                Some(format!("Requested {added} node{}", plural(added as usize))),
                None,
                Some(*to_nodes),
                cost,
            )
        }
        NotificationEvent::ScaleUpCompleted { instances, new_total, .. } => {
            let cost: Option<f64> = instances.iter().map(|i| pricing::per_day(&i.instance_type, i.lifecycle)).sum();
            let lines: Vec<String> = instances.iter().map(instance_line).collect();
            (None, Some(format!("Added:\n{}", lines.join("\n"))), None, Some(*new_total), cost)
        }
        NotificationEvent::ScaleDownStarted { reasons, from_nodes, to_nodes, .. } => {
            let removed = from_nodes.saturating_sub(*to_nodes);
            let cost = pricing::per_day("t3.small", Lifecycle::OnDemand).map(|p| -p * f64::from(removed));
            (
                Some(reasons.join("\n")),
                Some(format!("Draining {removed} node{}", plural(removed as usize))),
                None,
                Some(*to_nodes),
                cost,
            )
        }
        NotificationEvent::ScaleDownCompleted { node, instance_id, reason, new_total, .. } => {
            let cost = pricing::per_day("t3.small", Lifecycle::OnDemand).map(|p| -p);
            (Some(reason.clone()), Some(format!("Removed `{node}` (`{instance_id}`)")), None, Some(*new_total), cost)
        }
        NotificationEvent::CapacityFallback { wanted, launched, reason, .. } => (
            Some(reason.clone()),
            Some(format!("Wanted {wanted}; launched {launched}")),
            Some("Add instance types or AZs to widen the Spot pools".to_string()),
            None,
            None,
        ),
        NotificationEvent::ScalingFailure { error_type, message, recommendation, .. } => {
            let recommendation = recommendation.clone().or_else(|| match error_type {
                FailureType::Ec2QuotaExceeded => Some("Request an EC2 quota increase or enable Spot".to_string()),
                _ => None,
            });
            (Some(message.clone()), None, recommendation, None, None)
        }
        NotificationEvent::AtMaxCapacity { node_count, max_nodes, reasons } => (
            Some(reasons.join("\n")),
            Some(format!("No node added: {node_count} of max {max_nodes}")),
            Some("Raise MAX_NODES or optimise the workload".to_string()),
            Some(*node_count),
            None,
        ),
        NotificationEvent::SpotInterruption { instance_id, node, event, action } => (
            Some(format!(
                "{event} for `{instance_id}`{}",
                node.as_ref().map(|n| format!(" (node `{n}`)")).unwrap_or_default()
            )),
            Some(action.clone()),
            None,
            None,
            None,
        ),
    }
}

/// The Block Kit message for one of our notifications.
pub fn notification_message(n: &Notification, links: &Links) -> Value {
    let (reason, action, recommendation, total, cost) = details(&n.event);
    let headline = format!("{} {}", emoji(&n.event), title(&n.event));
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": headline, "emoji": true}})];
    if let Some(reason) = reason {
        blocks.push(section(&format!("*Reason*\n{reason}")));
    }
    if let Some(action) = action {
        blocks.push(section(&format!("*Action*\n{action}")));
    }
    let mut fields = vec![field("Cluster", &n.cluster_id)];
    if let Some(total) = total {
        fields.push(field("Total nodes", &total.to_string()));
    }
    if let Some(cost) = cost {
        fields
            .push(field("Est. cost impact", &format!("{}${:.2}/day", if cost < 0.0 { "−" } else { "+" }, cost.abs())));
    }
    fields.push(field("Time", &utc(n.at)));
    blocks.push(json!({"type": "section", "fields": fields}));
    if let Some(recommendation) = recommendation {
        blocks.push(section(&format!("💡 *Recommendation*\n{recommendation}")));
    }
    push_buttons(&mut blocks, links);
    json!({"text": headline, "blocks": blocks})
}

/// The Block Kit message for a CloudWatch alarm state change.
pub fn alarm_message(alarm: &AlarmMessage, links: &Links) -> Value {
    let icon = match alarm.new_state_value.as_str() {
        "ALARM" => "🔴",
        "OK" => "✅",
        _ => "⚪",
    };
    let headline = format!("{icon} CloudWatch alarm {}: {}", alarm.new_state_value, alarm.alarm_name);
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": headline, "emoji": true}})];
    if let Some(reason) = &alarm.new_state_reason {
        blocks.push(section(&format!("*Reason*\n{reason}")));
    }
    let mut fields = Vec::new();
    if let Some(old) = &alarm.old_state_value {
        fields.push(field("Previous state", old));
    }
    if let Some(region) = &alarm.region {
        fields.push(field("Region", region));
    }
    if let Some(time) = &alarm.state_change_time {
        fields.push(field("Time", time));
    }
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(description) = &alarm.alarm_description {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": description}]}));
    }
    push_buttons(&mut blocks, links);
    json!({"text": headline, "blocks": blocks})
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn field(name: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": format!("*{name}*\n{value}")})
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn push_buttons(blocks: &mut Vec<Value>, links: &Links) {
    let buttons: Vec<Value> = [("Dashboard", &links.dashboard_url), ("CloudWatch logs", &links.logs_url)]
        .into_iter()
        .filter_map(|(label, url)| {
            url.as_ref().map(|u| json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": u}))
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
}

#[cfg(test)]
#[path = "slack_tests.rs"]
mod tests;
