"""The TRL-based trainer that reads the workspace directly: DPO family, KTO, SimPO/CPO, ORPO, SPIN."""
