//! Fixtures on moto_server: the state table, queues with a dead-letter queue, a topic with an
//! SQS subscriber, tagged instances and secrets. Every name is unique, so tests share one
//! server without resetting it under each other.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use smartscale_core::ports::Lifecycle;
use smartscale_core::tags;

use crate::unique;

pub async fn sdk() -> SdkConfig {
    smartscale_aws::local_sdk_config(&crate::moto_url()).await
}

/// The state table: partition key `cluster_id`.
pub async fn state_table(sdk: &SdkConfig) -> String {
    let name = unique("smartscale-state");
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(&name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("cluster_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("cluster_id").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the state table on moto");
    name
}

pub struct Queues {
    pub scale_up_url: String,
    pub drain_url: String,
    pub dlq_url: String,
}

/// The scale-up and drain queues, both redriving to one DLQ after `max_receives` receives.
pub async fn queues(sdk: &SdkConfig, max_receives: u32) -> Queues {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dlq_url = create_queue(&sqs, &unique("smartscale-dlq"), HashMap::new()).await;
    let dlq_arn = queue_arn(&sqs, &dlq_url).await;
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string()}).to_string();
    let attrs = HashMap::from([(QueueAttributeName::RedrivePolicy, redrive)]);
    Queues {
        scale_up_url: create_queue(&sqs, &unique("smartscale-scale-up"), attrs.clone()).await,
        drain_url: create_queue(&sqs, &unique("smartscale-drain"), attrs).await,
        dlq_url,
    }
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("queue ARN")
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> String {
    sqs.create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .expect("create a queue on moto")
        .queue_url()
        .unwrap()
        .to_string()
}

/// A topic with an SQS queue subscribed (raw delivery), to observe what gets published.
pub async fn topic_with_subscriber(sdk: &SdkConfig) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let topic_arn =
        sns.create_topic().name(unique("smartscale-events")).send().await.unwrap().topic_arn().unwrap().to_string();
    let queue_url = create_queue(&sqs, &unique("smartscale-events-sub"), HashMap::new()).await;
    let queue_arn = queue_arn(&sqs, &queue_url).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("subscribe the queue to the topic");
    (topic_arn, queue_url)
}

/// A received message: its body, message attributes, and receive count.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: String,
    pub attributes: HashMap<String, String>,
    pub receive_count: u32,
    pub receipt_handle: String,
}

/// Every message visible on the queue now (several receive calls, as SQS returns at most 10).
pub async fn receive_all(sdk: &SdkConfig, queue_url: &str) -> Vec<Received> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("receive from moto");
        let batch = out.messages();
        if batch.is_empty() {
            return all;
        }
        for m in batch {
            all.push(Received {
                body: m.body().unwrap_or_default().to_string(),
                attributes: m
                    .message_attributes()
                    .map(|a| {
                        a.iter().map(|(k, v)| (k.clone(), v.string_value().unwrap_or_default().to_string())).collect()
                    })
                    .unwrap_or_default(),
                receive_count: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                receipt_handle: m.receipt_handle().unwrap_or_default().to_string(),
            });
        }
    }
}

/// Launches `count` running instances tagged as managed for `cluster_id`.
pub async fn managed_instances(sdk: &SdkConfig, cluster_id: &str, count: usize) -> Vec<String> {
    instances_with_tags(sdk, count, tags::launch_tags(cluster_id, "seed", Lifecycle::OnDemand)).await
}

pub async fn instances_with_tags(
    sdk: &SdkConfig,
    count: usize,
    tags: std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    if count == 0 {
        return Vec::new();
    }
    let spec = TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
        .build();
    let out = aws_sdk_ec2::Client::new(sdk)
        .run_instances()
        .image_id("ami-12c6146b")
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
        .min_count(count as i32)
        .max_count(count as i32)
        .tag_specifications(spec)
        .send()
        .await
        .expect("launch instances on moto");
    out.instances().iter().filter_map(|i| i.instance_id().map(str::to_string)).collect()
}

/// Stores a secret and returns its id.
pub async fn secret(sdk: &SdkConfig, value: &str) -> String {
    let name = unique("smartscale-secret");
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("create a secret");
    name
}

/// A launch template on moto for worker nodes; returns its id.
pub async fn launch_template(sdk: &SdkConfig) -> String {
    use aws_sdk_ec2::types::RequestLaunchTemplateData;
    aws_sdk_ec2::Client::new(sdk)
        .create_launch_template()
        .launch_template_name(unique("k3s-workers"))
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
                .build(),
        )
        .send()
        .await
        .expect("create a launch template")
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap()
        .to_string()
}

/// The default VPC's subnets in the first `count` AZs, in AZ order.
pub async fn subnets(sdk: &SdkConfig, count: usize) -> Vec<smartscale_core::placement::Subnet> {
    let out = aws_sdk_ec2::Client::new(sdk).describe_subnets().send().await.expect("describe subnets");
    let mut subnets: Vec<smartscale_core::placement::Subnet> = out
        .subnets()
        .iter()
        .filter(|s| s.default_for_az() == Some(true))
        .map(|s| smartscale_core::placement::Subnet {
            subnet_id: s.subnet_id().unwrap().to_string(),
            availability_zone: s.availability_zone().unwrap().to_string(),
        })
        .collect();
    subnets.sort_by(|a, b| a.availability_zone.cmp(&b.availability_zone));
    subnets.truncate(count);
    subnets
}
