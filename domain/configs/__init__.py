"""Parameter configurations: templates, validation, the config aggregate, portable files,
diff / blame over history, and architecture edits. Pure (stdlib + pydantic + pyyaml parsing)."""

from domain.configs.aggregate import CONFIG, ConfigState, CreateConfig, DeleteConfig, EditConfig
from domain.configs.arch import ArchEdit, ArchResult, apply_edit, structural_diff
from domain.configs.blame import BlameEntry, blame
from domain.configs.diff import FieldChange, diff_values
from domain.configs.events import ConfigCreated, ConfigDeleted, ConfigEdited, DerivedFrom
from domain.configs.portable import PortableConfig
from domain.configs.templates import TEMPLATES, Template, get_template, list_templates, template_values
from domain.configs.validation import ConfigInvalid, Violation, validate, violations

__all__ = [
    "CONFIG", "ArchEdit", "ArchResult", "BlameEntry", "ConfigCreated", "ConfigDeleted",
    "ConfigEdited", "ConfigInvalid", "ConfigState", "CreateConfig", "DeleteConfig", "DerivedFrom",
    "EditConfig", "FieldChange", "PortableConfig", "TEMPLATES", "Template", "Violation", "apply_edit",
    "blame", "diff_values", "get_template", "list_templates", "structural_diff", "template_values",
    "validate", "violations",
]  # fmt: skip
