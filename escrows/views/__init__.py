"""HTML pages, one module per domain. Reads go through selectors, every POST through one service;
an EscrowError becomes a flash message (or a form error) and a redirect. No view knows a business
rule. What every page shares lives in common.py."""
