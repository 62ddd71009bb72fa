"""Record: inspection facts, probe outcomes and declared disclosures in; one record out, assembled,
validated against `schemas/card.schema.json`, read and written as JSON, and its Hub metadata.

Imports no torch and no transformers."""

from modelcard.record.assemble import assemble
from modelcard.record.disclosures import read_disclosures
from modelcard.record.document import SCHEMA_VERSION, dump_record, read_record
from modelcard.record.validate import SchemaError, validate_record

__all__ = ["SCHEMA_VERSION", "SchemaError", "assemble", "dump_record", "read_disclosures", "read_record",
           "validate_record"]
