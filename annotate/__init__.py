"""The Gradio labelling app: pairwise and KTO labels, written durably into the workspace."""
