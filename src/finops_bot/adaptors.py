"""The cloud SDKs, imported on first use (the pattern of SkyPilot's sky/adaptors).

The base install has no cloud SDK: the demo, the Slack app and the GPU fleet never need one.
Each SDK comes with an extra (``pip install 'finops-bot[aws]'``, ``[gcp]``, ``[azure]``,
``[all]``). Code that talks to a cloud names its modules here and uses them as modules;
nothing is imported until an attribute is read. A source declares what it needs with
``@needs(...)`` on the methods a sync calls, so a configured source whose SDK is missing
fails its sync with one line that says what to install, and the other sources go on:

    aws_cost_explorer needs boto3: pip install 'finops-bot[aws]'
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from finops_bot.errors import FinopsError

F = TypeVar("F", bound=Callable[..., Any])


class MissingDependency(FinopsError):
    """A cloud SDK is not installed; the message names the extra that brings it."""


class LazyImport:
    """A module imported when an attribute is first read. ``package`` is what pip installs
    (``boto3`` brings ``botocore``), ``extra`` the finops-bot extra that depends on it."""

    def __init__(self, module: str, package: str, extra: str):
        self.module = module
        self.package = package
        self.extra = extra

    def load(self, needed_by: str = "finops-bot") -> ModuleType:
        try:
            return importlib.import_module(self.module)
        except ImportError as exc:
            line = f"{needed_by} needs {self.package}: pip install 'finops-bot[{self.extra}]'"
            missing = getattr(exc, "name", None) or ""
            if not (self.module == missing or self.module.startswith(missing + ".")):
                line += f" (importing {self.module} failed: {exc})"  # installed but broken
            raise MissingDependency(line) from exc

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and inspect probe these: not the module's
            raise AttributeError(name)
        return getattr(self.load(), name)

    def __repr__(self) -> str:
        return f"LazyImport({self.module!r}, extra={self.extra!r})"


def needs(*modules: LazyImport) -> Callable[[F], F]:
    """Method decorator: ``modules`` are imported before the method runs, and a missing one
    raises MissingDependency naming ``self.kind`` (the source's type)."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def checked(self, *args: Any, **kwargs: Any) -> Any:
            for module in modules:
                module.load(getattr(self, "kind", type(self).__name__))
            return method(self, *args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


# AWS: boto3 (botocore comes with it)
boto3 = LazyImport("boto3", "boto3", "aws")
botocore_config = LazyImport("botocore.config", "boto3", "aws")
botocore_exceptions = LazyImport("botocore.exceptions", "boto3", "aws")

# Google Cloud: google-cloud-bigquery, google-cloud-billing (google-api-core and
# google-auth come with either)
bigquery = LazyImport("google.cloud.bigquery", "google-cloud-bigquery", "gcp")
billing_v1 = LazyImport("google.cloud.billing_v1", "google-cloud-billing", "gcp")
google_exceptions = LazyImport("google.api_core.exceptions", "google-api-core", "gcp")
google_auth_exceptions = LazyImport("google.auth.exceptions", "google-auth", "gcp")
compute_v1 = LazyImport("google.cloud.compute_v1", "google-cloud-compute", "gcp")

# Azure: azure-mgmt-costmanagement, azure-identity (azure-core comes with either)
azure_costmanagement = LazyImport("azure.mgmt.costmanagement", "azure-mgmt-costmanagement", "azure")
azure_identity = LazyImport("azure.identity", "azure-identity", "azure")
azure_compute = LazyImport("azure.mgmt.compute", "azure-mgmt-compute", "azure")
azure_exceptions = LazyImport("azure.core.exceptions", "azure-core", "azure")
azure_policies = LazyImport("azure.core.pipeline.policies", "azure-core", "azure")
azure_rest = LazyImport("azure.core.rest", "azure-core", "azure")
