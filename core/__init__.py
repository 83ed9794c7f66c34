"""What both apps (accounts, escrows) and webhooks build on: the one domain error hierarchy
(errors), the hot statements compiled once per process (compiled) and the one-round-trip cache
flags and counters (fastcache). It imports from no app."""
