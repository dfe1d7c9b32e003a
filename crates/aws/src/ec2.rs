//! The EC2 fleet: instances launched from a launch template and tagged as managed for one
//! cluster. Nothing here touches an instance without this cluster's managed tags.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{
    Filter, InstanceInterruptionBehavior, InstanceMarketOptionsRequest, InstanceType, LaunchTemplateSpecification,
    MarketType, ResourceType, SpotInstanceType, SpotMarketOptions, Tag, TagSpecification,
};
use chrono::DateTime;
use smartscale_core::ports::{Fleet, Instance, InstanceState, LaunchOutcome, LaunchRequest, Lifecycle};
use smartscale_core::{tags, Error, Result};
use tracing::{instrument, warn};

use crate::{error_code, sdk_error};

const CAPACITY_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "SpotMaxPriceTooLow",
    "MaxSpotInstanceCountExceeded",
    "UnfulfillableCapacity",
    "InsufficientCapacity",
];
const QUOTA_CODES: &[&str] = &["InstanceLimitExceeded", "VcpuLimitExceeded"];

/// Which launch template new instances come from.
#[derive(Debug, Clone, PartialEq)]
pub enum LaunchTemplate {
    Id(String),
    Name(String),
}

#[derive(Debug, Clone)]
pub struct Ec2Fleet {
    client: aws_sdk_ec2::Client,
    cluster_id: String,
    launch_template: Option<LaunchTemplate>,
}

impl Ec2Fleet {
    pub fn new(config: &SdkConfig, cluster_id: impl Into<String>, launch_template: Option<LaunchTemplate>) -> Self {
        Ec2Fleet { client: aws_sdk_ec2::Client::new(config), cluster_id: cluster_id.into(), launch_template }
    }

    pub fn client(&self) -> &aws_sdk_ec2::Client {
        &self.client
    }

    async fn describe(&self, filters: Vec<Filter>, ids: Option<Vec<String>>) -> Result<Vec<Instance>> {
        let mut pages =
            self.client.describe_instances().set_filters(Some(filters)).set_instance_ids(ids).into_paginator().send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ec2", "DescribeInstances", e))?;
            for reservation in page.reservations() {
                instances.extend(reservation.instances().iter().filter_map(convert));
            }
        }
        Ok(instances)
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Our view of an SDK instance. Lifecycle comes from our `Lifecycle` tag (moto does not
/// implement the `instance-lifecycle` filter; the tag is what every Lambda filters on).
fn convert(i: &aws_sdk_ec2::types::Instance) -> Option<Instance> {
    let tags: BTreeMap<String, String> =
        i.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string()))).collect();
    let lifecycle = tags
        .get(tags::LIFECYCLE)
        .and_then(|v| Lifecycle::from_tag(v))
        .or_else(|| {
            i.instance_lifecycle().map(|l| if l.as_str() == "spot" { Lifecycle::Spot } else { Lifecycle::OnDemand })
        })
        .unwrap_or(Lifecycle::OnDemand);
    let state = match i.state().and_then(|s| s.name()).map(|n| n.as_str()) {
        Some("pending") => InstanceState::Pending,
        Some("running") => InstanceState::Running,
        Some("shutting-down") => InstanceState::ShuttingDown,
        Some("terminated") => InstanceState::Terminated,
        Some("stopping") => InstanceState::Stopping,
        Some("stopped") => InstanceState::Stopped,
        other => {
            warn!(instance_id = ?i.instance_id(), state = ?other, "instance in an unknown state; skipped");
            return None;
        }
    };
    Some(Instance {
        instance_id: i.instance_id()?.to_string(),
        instance_type: i.instance_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
        availability_zone: i.placement().and_then(|p| p.availability_zone()).unwrap_or_default().to_string(),
        subnet_id: i.subnet_id().unwrap_or_default().to_string(),
        lifecycle,
        state,
        private_dns_name: i.private_dns_name().filter(|d| !d.is_empty()).map(str::to_string),
        launched_at: i.launch_time().and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
        tags,
    })
}

impl Fleet for Ec2Fleet {
    #[instrument(skip(self, request), fields(token = %request.client_token, instance_type = %request.instance_type, az = %request.availability_zone, lifecycle = request.lifecycle.as_str()))]
    async fn launch(&self, request: &LaunchRequest) -> Result<LaunchOutcome> {
        let template = match &self.launch_template {
            Some(LaunchTemplate::Id(id)) => LaunchTemplateSpecification::builder().launch_template_id(id),
            Some(LaunchTemplate::Name(name)) => LaunchTemplateSpecification::builder().launch_template_name(name),
            None => {
                return Err(Error::config("LAUNCH_TEMPLATE_ID", "a launch template is required to launch instances"))
            }
        }
        .version("$Latest")
        .build();
        let tag_spec = TagSpecification::builder()
            .resource_type(ResourceType::Instance)
            .set_tags(Some(request.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .build();
        let mut call = self
            .client
            .run_instances()
            .launch_template(template)
            .instance_type(InstanceType::from(request.instance_type.as_str()))
            .subnet_id(&request.subnet_id)
            .min_count(1)
            .max_count(1)
            .client_token(&request.client_token)
            .tag_specifications(tag_spec);
        if request.lifecycle == Lifecycle::Spot {
            call = call.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::OneTime)
                            .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
                            .build(),
                    )
                    .build(),
            );
        }
        match call.send().await {
            Ok(out) => {
                let launched = out.instances().first().and_then(convert).ok_or_else(|| {
                    Error::rejected("ec2", "RunInstances succeeded without returning an instance".to_string())
                })?;
                // RunInstances answers before the tags are readable; keep what we asked for.
                let mut launched = launched;
                if launched.tags.is_empty() {
                    launched.tags = request.tags.clone();
                }
                launched.lifecycle = request.lifecycle;
                Ok(LaunchOutcome::Launched(launched))
            }
            Err(e) => {
                let code = error_code(&e).unwrap_or_default().to_string();
                if CAPACITY_CODES.contains(&code.as_str()) {
                    let message = sdk_error("ec2", "RunInstances", e).to_string();
                    Ok(LaunchOutcome::InsufficientCapacity { code, message })
                } else if QUOTA_CODES.contains(&code.as_str()) {
                    let message = sdk_error("ec2", "RunInstances", e).to_string();
                    Ok(LaunchOutcome::QuotaExceeded { code, message })
                } else {
                    Err(sdk_error("ec2", "RunInstances", e))
                }
            }
        }
    }

    #[instrument(skip(self))]
    async fn terminate(&self, instance_ids: &[String]) -> Result<()> {
        if instance_ids.is_empty() {
            return Ok(());
        }
        let found = self.describe(Vec::new(), Some(instance_ids.to_vec())).await?;
        for id in instance_ids {
            let managed = found.iter().any(|i| &i.instance_id == id && tags::is_managed(&i.tags, &self.cluster_id));
            if !managed {
                return Err(Error::rejected(
                    "ec2",
                    format!("refusing to terminate {id}: it is not tagged as managed for cluster {}", self.cluster_id),
                ));
            }
        }
        self.client
            .terminate_instances()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .send()
            .await
            .map_err(|e| sdk_error("ec2", "TerminateInstances", e))?;
        Ok(())
    }

    #[instrument(skip(self))]
    async fn describe_managed(&self) -> Result<Vec<Instance>> {
        let filters = vec![
            filter(&format!("tag:{}", tags::CLUSTER), &self.cluster_id),
            filter(&format!("tag:{}", tags::MANAGED_BY.0), tags::MANAGED_BY.1),
        ];
        self.describe(filters, None).await
    }
}
