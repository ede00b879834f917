"""Everything a person touches: the Textual console and the `audiencectl` command line."""
