//! Slack Block Kit messages for notifications and CloudWatch alarms. Pure: the forwarder
//! posts what this builds, and the snapshot tests pin it.
//!
//! Text from the world (node names, reasons, an alarm's description, an API's error message)
//! reaches Slack as mrkdwn, where `<`, `>` and `&` are control characters: Slack requires
//! them escaped, or `<!channel>` in an error message pings a channel and `a < b` can swallow
//! text. Every such value goes through [`escape`]; our own markup (`*bold*`, code spans) is
//! added around it, unescaped. Block Kit refuses a whole message whose text is over a block's
//! limit (the alert is then lost), so every text is cut to its limit with an ellipsis.

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

/// Block Kit's limits, in characters: a header's `plain_text`, a section's text, one of a
/// section's fields, a context element's text.
pub const HEADER_MAX: usize = 150;
pub const SECTION_TEXT_MAX: usize = 3000;
pub const FIELD_TEXT_MAX: usize = 2000;
pub const CONTEXT_TEXT_MAX: usize = 3000;

/// Escapes text for Slack's mrkdwn: `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;`, and
/// nothing else (Slack asks that no other entity be encoded).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Slack's length: UTF-16 code units, as its JavaScript counts them. Never fewer than the
/// chars, so a text within it is within Slack's limit however Slack counts.
fn slack_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` cut on a char boundary to at most `max` (Slack's length) with a trailing `…`.
pub fn truncate(text: &str, max: usize) -> String {
    if slack_len(text) <= max {
        return text.to_string();
    }
    let mut kept = String::new();
    let mut len = 0;
    for c in text.chars() {
        // Room for the ellipsis (one UTF-16 unit).
        if len + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        len += c.len_utf16();
        kept.push(c);
    }
    kept.push('…');
    kept
}

/// [`truncate`] for escaped mrkdwn: never cuts an entity (`&amp;`) in two. Escaped text has
/// `&` only where an entity starts.
fn truncate_mrkdwn(text: &str, max: usize) -> String {
    if slack_len(text) <= max {
        return text.to_string();
    }
    let cut = truncate(text, max);
    let body = cut.strip_suffix('…').unwrap_or(&cut);
    match body.rfind('&') {
        Some(at) if !body[at..].contains(';') => format!("{}…", &body[..at]),
        _ => cut,
    }
}

fn emoji(event: &NotificationEvent) -> &'static str {
    match event {
        NotificationEvent::ScaleUpStarted { .. } | NotificationEvent::ScaleUpCompleted { .. } => "🟢",
        NotificationEvent::ScaleDownStarted { .. } | NotificationEvent::ScaleDownCompleted { .. } => "🔵",
        NotificationEvent::ScalingFailure { .. } => "🔴",
        NotificationEvent::AtMaxCapacity { .. } | NotificationEvent::CapacityFallback { .. } => "⚠️",
        NotificationEvent::SpotInterruption { .. } => "🟠",
        NotificationEvent::Recovered { .. } => "✅",
        NotificationEvent::NoRemovableNode { .. } => "ℹ️",
        NotificationEvent::SignalsMissing { .. } | NotificationEvent::UnhostablePods { .. } => "⚠️",
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
        NotificationEvent::Recovered { what, .. } => format!("Recovered: {what}"),
        NotificationEvent::NoRemovableNode { .. } => "Scale-down wanted, but no node can be removed safely".to_string(),
        NotificationEvent::SignalsMissing { signals, .. } => format!("No data for {}", signals.join(", ")),
        NotificationEvent::UnhostablePods { pods, .. } => {
            format!("{pods} pending pod{} larger than any new node", plural(*pods as usize))
        }
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

/// What a message says beyond its headline, where the event has it.
#[derive(Default)]
struct Details {
    reason: Option<String>,
    action: Option<String>,
    recommendation: Option<String>,
    total: Option<u32>,
    /// Estimated USD per day the change adds (negative: saves).
    cost: Option<f64>,
}

fn details(event: &NotificationEvent) -> Details {
    let node_day = pricing::per_day("t3.small", Lifecycle::OnDemand);
    match event {
        NotificationEvent::ScaleUpStarted { reasons, from_nodes, to_nodes, .. } => {
            let added = to_nodes.saturating_sub(*from_nodes);
            Details {
                reason: Some(reasons.join("\n")),
                action: Some(format!("Requested {added} node{}", plural(added as usize))),
                total: Some(*to_nodes),
                cost: node_day.map(|p| p * f64::from(added)),
                ..Details::default()
            }
        }
        NotificationEvent::ScaleUpCompleted { instances, new_total, .. } => {
            let lines: Vec<String> = instances.iter().map(instance_line).collect();
            Details {
                action: Some(format!("Added:\n{}", lines.join("\n"))),
                total: Some(*new_total),
                cost: instances.iter().map(|i| pricing::per_day(&i.instance_type, i.lifecycle)).sum(),
                ..Details::default()
            }
        }
        NotificationEvent::ScaleDownStarted { reasons, from_nodes, to_nodes, .. } => {
            let removed = from_nodes.saturating_sub(*to_nodes);
            Details {
                reason: Some(reasons.join("\n")),
                action: Some(format!("Draining {removed} node{}", plural(removed as usize))),
                total: Some(*to_nodes),
                cost: node_day.map(|p| -p * f64::from(removed)),
                ..Details::default()
            }
        }
        NotificationEvent::ScaleDownCompleted { node, instance_id, reason, new_total, .. } => Details {
            reason: Some(reason.clone()),
            action: Some(format!("Removed `{node}` (`{instance_id}`)")),
            total: Some(*new_total),
            cost: node_day.map(|p| -p),
            ..Details::default()
        },
        NotificationEvent::CapacityFallback { wanted, launched, reason, .. } => Details {
            reason: Some(reason.clone()),
            action: Some(format!("Wanted {wanted}; launched {launched}")),
            recommendation: Some("Add instance types or AZs to widen the Spot pools".to_string()),
            ..Details::default()
        },
        NotificationEvent::ScalingFailure { error_type, message, recommendation, .. } => Details {
            reason: Some(message.clone()),
            recommendation: recommendation.clone().or_else(|| match error_type {
                FailureType::Ec2QuotaExceeded => Some("Request an EC2 quota increase or enable Spot".to_string()),
                _ => None,
            }),
            ..Details::default()
        },
        NotificationEvent::AtMaxCapacity { node_count, max_nodes, reasons } => Details {
            reason: Some(reasons.join("\n")),
            action: Some(format!("No node added: {node_count} of max {max_nodes}")),
            recommendation: Some("Raise MAX_NODES or optimise the workload".to_string()),
            total: Some(*node_count),
            cost: None,
        },
        NotificationEvent::SpotInterruption { instance_id, node, event, action } => Details {
            reason: Some(format!(
                "{event} for `{instance_id}`{}",
                node.as_ref().map(|n| format!(" (node `{n}`)")).unwrap_or_default()
            )),
            action: Some(action.clone()),
            ..Details::default()
        },
        NotificationEvent::Recovered { message, .. } => Details { reason: Some(message.clone()), ..Details::default() },
        NotificationEvent::UnhostablePods { new_node_cpu_millis, new_node_memory_mib, .. } => Details {
            reason: Some(format!(
                "Their requests exceed a new node's {new_node_cpu_millis}m CPU or {new_node_memory_mib} MiB memory"
            )),
            action: Some("No node added for them".to_string()),
            recommendation: Some("Lower the pods' requests, or add a larger instance type".to_string()),
            ..Details::default()
        },
        NotificationEvent::SignalsMissing { detail, .. } => Details {
            reason: Some(detail.clone()),
            recommendation: Some(
                "Check that node-exporter and kube-state-metrics run and are scraped, and the PROMQL_* overrides"
                    .to_string(),
            ),
            ..Details::default()
        },
        NotificationEvent::NoRemovableNode { reasons, look_again_at } => Details {
            reason: Some(reasons.join("\n")),
            action: Some(format!(
                "No node drained; looking again after {}",
                look_again_at.format("%Y-%m-%d %H:%M UTC")
            )),
            recommendation: Some("Check the PodDisruptionBudgets and single-replica workloads named above".to_string()),
            ..Details::default()
        },
    }
}

/// The Block Kit message for one of our notifications.
pub fn notification_message(n: &Notification, links: &Links) -> Value {
    let Details { reason, action, recommendation, total, cost } = details(&n.event);
    let headline = format!("{} {}", emoji(&n.event), title(&n.event));
    let mut blocks = vec![header(&headline)];
    if let Some(reason) = reason {
        blocks.push(section("*Reason*\n", &reason));
    }
    if let Some(action) = action {
        blocks.push(section("*Action*\n", &action));
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
        blocks.push(section("💡 *Recommendation*\n", &recommendation));
    }
    push_buttons(&mut blocks, links);
    json!({"text": fallback(&headline), "blocks": blocks})
}

/// The Block Kit message for a CloudWatch alarm state change.
pub fn alarm_message(alarm: &AlarmMessage, links: &Links) -> Value {
    let icon = match alarm.new_state_value.as_str() {
        "ALARM" => "🔴",
        "OK" => "✅",
        _ => "⚪",
    };
    let headline = format!("{icon} CloudWatch alarm {}: {}", alarm.new_state_value, alarm.alarm_name);
    let mut blocks = vec![header(&headline)];
    if let Some(reason) = &alarm.new_state_reason {
        blocks.push(section("*Reason*\n", reason));
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
        let text = truncate_mrkdwn(&escape(description), CONTEXT_TEXT_MAX);
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}));
    }
    push_buttons(&mut blocks, links);
    json!({"text": fallback(&headline), "blocks": blocks})
}

/// The header: `plain_text`, which Slack shows as written (no escaping), cut to its limit.
fn header(headline: &str) -> Value {
    json!({"type": "header", "text": {"type": "plain_text", "text": truncate(headline, HEADER_MAX), "emoji": true}})
}

/// The message's top-level `text` (notifications, screen readers): mrkdwn, so escaped. The
/// headline is bounded like the header; Slack's own limit here is far larger.
fn fallback(headline: &str) -> String {
    truncate_mrkdwn(&escape(headline), SECTION_TEXT_MAX)
}

/// A mrkdwn section: our `markup` (a bold label), then `body` from the world, escaped.
fn section(markup: &str, body: &str) -> Value {
    let text = truncate_mrkdwn(&format!("{markup}{}", escape(body)), SECTION_TEXT_MAX);
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn field(name: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": truncate_mrkdwn(&format!("*{name}*\n{}", escape(value)), FIELD_TEXT_MAX)})
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The Dashboard and CloudWatch logs buttons, when their links are configured.
pub(crate) fn push_buttons(blocks: &mut Vec<Value>, links: &Links) {
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
