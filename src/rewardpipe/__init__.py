"""rewardpipe."""
