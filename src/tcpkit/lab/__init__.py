"""The failure lab: TCP failure stories as scenarios, run on the simulated network and,
where it can play them, on the Linux kernel (two network namespaces), and compared."""
