"""Generators for the documentation site: references from the code, the schema, the probe registry and the
policies, the gallery of cards, the benchmark figures and the internal link check. Each module returns Markdown
(or checks HTML); `site/hooks/modelcard_site.py` wires them into `mkdocs build`."""
