"""Everything a person touches: the Dash app, the command line and report export."""
