"""The way out to accounting and tax audits: document data in every usual format, DATEV, and
the auditor's GDPdU package. Everything reads documents through the caller's selection (which
comes from ``documents.selectors.visible_documents``)."""
