"""Mutation testing of the loaders' cache handling (`harness mutate`).

`source` parses a loader file (code vs comment, compiled branches, asm
routines), `operators` proposes one-edit defects from the text, `generate`
names them and writes patches, `build` builds one for a target, `run` boots it
under the cache model to the hand-off, `table` scores and records the run,
`cli` is the command. docs/mutation.md lists the equivalent mutants.
"""
