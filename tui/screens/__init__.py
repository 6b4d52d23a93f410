"""One module per screen (Harlequin's components/ layout)."""
