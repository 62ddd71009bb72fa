"""Record: inspection facts, probe outcomes and declared disclosures in; one record out, assembled,
validated against `schemas/card.schema.json`, read and written as JSON, and its Hub metadata.

Imports no torch and no transformers."""
