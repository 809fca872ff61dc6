"""Every spelling of a service in real exports, and the words people type for it.

One service is spelled differently by each export of its provider: AWS's FOCUS export and
the CUR's product/ProductName say "Amazon Elastic Compute Cloud", the CUR's
lineItem/ProductCode says "AmazonEC2", Cost Explorer's SERVICE dimension splits it into
"Amazon Elastic Compute Cloud - Compute" and "EC2 - Other". A question about one spelling
sums them all. Sources, per provider:
- AWS: FOCUS 1.0 Data Exports and CUR product/ProductName (full names), CUR
  lineItem/ProductCode (codes), Cost Explorer GetDimensionValues(SERVICE).
- Google Cloud: the billing export's service.description (and FOCUS ServiceName).
- Azure: cost-details MeterCategory, the Cost Management FOCUS export's ServiceName.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from finops_bot.providers import fold


@dataclass(frozen=True)
class Service:
    cloud: str
    spellings: tuple[str, ...]  # as exports write it; the first is the name shown
    words: tuple[str, ...] = ()  # what people type

    @property
    def label(self) -> str:
        return self.spellings[0]

    def folded(self) -> set[str]:
        return {fold(s) for s in (*self.spellings, *self.words)}


SERVICES: tuple[Service, ...] = (
    # AWS: FOCUS / ProductName, ProductCode, Cost Explorer SERVICE
    Service(
        "aws",
        (
            "Amazon Elastic Compute Cloud",
            "AmazonEC2",
            "Amazon Elastic Compute Cloud - Compute",
            "EC2 - Other",
        ),
        ("ec2", "elastic compute cloud", "amazon ec2"),
    ),
    Service("aws", ("Amazon Simple Storage Service", "AmazonS3"), ("s3", "amazon s3")),
    Service("aws", ("Amazon CloudWatch", "AmazonCloudWatch"), ("cloudwatch",)),
    Service("aws", ("Amazon Relational Database Service", "AmazonRDS"), ("rds",)),
    Service("aws", ("Amazon SageMaker", "AmazonSageMaker"), ("sagemaker",)),
    Service(
        "aws",
        (
            "Amazon Elastic Kubernetes Service",
            "AmazonEKS",
            "Amazon Elastic Container Service for Kubernetes",
        ),
        ("eks",),
    ),
    Service("aws", ("Amazon Elastic Container Service", "AmazonECS"), ("ecs",)),
    Service("aws", ("AWS Lambda", "AWSLambda"), ("lambda",)),
    Service("aws", ("Amazon Virtual Private Cloud", "AmazonVPC"), ("vpc",)),
    Service("aws", ("AWS Data Transfer", "AWSDataTransfer"), ("data transfer", "egress")),
    Service("aws", ("Amazon DynamoDB", "AmazonDynamoDB"), ("dynamodb", "dynamo")),
    Service("aws", ("AWS Glue", "AWSGlue"), ("glue",)),
    Service("aws", ("Amazon Elastic File System", "AmazonEFS"), ("efs",)),
    Service("aws", ("Amazon FSx", "AmazonFSx"), ("fsx",)),
    Service("aws", ("Amazon Bedrock", "AmazonBedrock"), ("bedrock",)),
    Service("aws", ("Amazon CloudFront", "AmazonCloudFront"), ("cloudfront",)),
    Service("aws", ("Amazon Route 53", "AmazonRoute53"), ("route53", "route 53")),
    Service("aws", ("Amazon GuardDuty", "AmazonGuardDuty"), ("guardduty",)),
    Service("aws", ("AWS Key Management Service", "awskms"), ("kms",)),
    # Google Cloud: billing export service.description
    Service("gcp", ("Compute Engine",), ("gce", "google compute engine")),
    Service("gcp", ("Cloud Storage",), ("gcs", "google cloud storage")),
    Service("gcp", ("Kubernetes Engine", "Google Kubernetes Engine"), ("gke",)),
    Service("gcp", ("BigQuery",), ("bq", "big query")),
    Service("gcp", ("Vertex AI",), ("vertex",)),
    Service("gcp", ("Cloud SQL",), ("sql",)),
    Service("gcp", ("Cloud Run",), ("cloud run",)),
    Service("gcp", ("Cloud Functions",), ("functions",)),
    Service("gcp", ("Cloud Monitoring",), ("monitoring", "stackdriver")),
    # Azure: MeterCategory / FOCUS ServiceName
    Service("azure", ("Virtual Machines",), ("vm", "vms", "azure vms", "azure vm")),
    Service("azure", ("Storage", "Azure Blob Storage"), ("blob", "azure storage")),
    Service("azure", ("Azure Kubernetes Service",), ("aks",)),
    Service("azure", ("Azure Machine Learning", "Machine Learning"), ("azure ml", "aml")),
    Service("azure", ("Azure SQL Database", "SQL Database"), ("sql", "azure sql")),
    Service("azure", ("Azure Functions", "Functions"), ("functions",)),
    Service("azure", ("Azure Cosmos DB",), ("cosmos", "cosmosdb")),
    Service("azure", ("Azure Monitor",), ("monitor",)),
    Service("azure", ("Virtual Network",), ("vnet",)),
    Service("azure", ("Bandwidth",), ()),
)

# FOCUS ServiceCategory values (1.0 to 1.3); a word equal to one means that category
SERVICE_CATEGORIES = (
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
)
CATEGORY_WORDS = {
    **{fold(c): c for c in SERVICE_CATEGORIES},
    "database": "Databases",
    "network": "Networking",
    "ai": "AI and Machine Learning",
    "ml": "AI and Machine Learning",
    "ai-ml": "AI and Machine Learning",
    "machine-learning": "AI and Machine Learning",
    "iot": "Internet of Things",
}


@lru_cache(maxsize=4096)
def services_named(word: str) -> tuple[Service, ...]:
    """The services a word or spelling names (several when it is ambiguous: "sql")."""
    wanted = fold(word)
    return tuple(s for s in SERVICES if wanted in s.folded())


@lru_cache(maxsize=4096)
def service_of(spelling: str) -> Service | None:
    """The service a stored spelling belongs to."""
    wanted = fold(spelling)
    return next((s for s in SERVICES if wanted in {fold(x) for x in s.spellings}), None)
