"""The demo network: `referloop demo` (management/commands/demo.py) builds it with
`build.demo_build`."""
