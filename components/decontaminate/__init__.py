"""Decontamination: the task's dev/test texts removed from every text pretraining can read."""
