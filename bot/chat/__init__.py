"""The chat core: commands, the front desk, answering, the platform-neutral reply and the persona's voice."""
