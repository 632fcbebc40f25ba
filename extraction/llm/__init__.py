"""Model-assisted extraction: an optional backend that asks a language model for the fields
rules could not read well, and never lets it decide alone.

The flow (``services.model_run_execute``): policy and availability (``config``) -> cache by text
and model -> team budget (``guards.budget_reserve``) -> circuit breaker and retries with backoff
(``guards``) -> the HTTP transport through the SSRF guard (``transport``) with the document text
strictly as data between delimiters (``prompt``) -> the answer parsed against a schema, normalised,
checked (checksums, sums) and looked up in the page's words (``output``) -> suggestions filled into
empty fields with source "model" for a person to confirm. The document's status never changes.
"""
