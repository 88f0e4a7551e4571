"""Rendering documents: HTML and PDF from templates, EN 16931 e-invoices as XML."""
