"""Cloud providers as each one spells itself, and as people type them.

Exports disagree: AWS writes ``AWS`` in FOCUS, people say "Amazon Web Services"; Azure's
FOCUS export says ``Microsoft``, others write ``Microsoft Azure``; Google says ``Google
Cloud``. Every spelling folds to one cloud id, so "aws" means all of AWS whatever the file
said, and two files naming one provider differently are still one provider.
"""

from __future__ import annotations

import re

# cloud id → spellings seen in exports and in questions (folded: lower case, dashes)
SPELLINGS: dict[str, tuple[str, ...]] = {
    # FOCUS ProviderName "AWS" (AWS Data Exports); CUR has no provider column
    "aws": ("aws", "amazon", "amazon-web-services", "amazon-aws", "amazon-web-services-inc"),
    # FOCUS ProviderName "Microsoft" (Cost Management FOCUS export); "Microsoft Azure" elsewhere
    "azure": ("azure", "microsoft", "microsoft-azure", "ms-azure"),
    # FOCUS ProviderName "Google Cloud"; the BigQuery export has no provider column
    "gcp": ("gcp", "google", "google-cloud", "google-cloud-platform", "gcloud"),
    # FOCUS ProviderName "Oracle" (OCI FOCUS reports)
    "oracle": ("oracle", "oci", "oracle-cloud", "oracle-cloud-infrastructure"),
}
_CLOUD_OF = {spelling: cloud for cloud, names in SPELLINGS.items() for spelling in names}


def fold(name: str) -> str:
    """Case, spaces, '_', '.' and '/' fold to '-': 'BERT Training' → 'bert-training'."""
    return re.sub(r"[\s_.\-/]+", "-", name.strip().lower()).strip("-")


def cloud_of(provider: str) -> str:
    """'Amazon Web Services' → 'aws'; an unknown provider → its folded name ('' stays '')."""
    folded = fold(provider or "")
    return _CLOUD_OF.get(folded, folded)


def is_cloud_word(word: str) -> bool:
    """Whether a word someone typed names a cloud provider ("aws", "google", "Azure")."""
    return fold(word) in _CLOUD_OF
