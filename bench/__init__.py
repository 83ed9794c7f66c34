"""`make bench`: load the hot paths against the production server setup and the ceilings."""
