"""A compact GRPO in JAX: group-normalised advantages, a clipped-ratio policy loss with a k3 KL
penalty to the reference policy (the base weights: LoRA disabled), a weighted reward mix, and the
loop that samples, scores and optimises (several passes per sampled batch)."""
