"""The compiled read path: plan a query once per document and grant set, run it many times.

`plan.Planner` turns a validated query operation into a `ReadPlan` (or None when it holds
something not covered); `run.run` answers a plan with one statement per level through the
`graph.ports.CompiledReads` port and a table-driven completion. `graph.execution` hooks it in
below Strawberry's extensions, so everything around field execution stays as it is
(docs/adr/0007-compiled-read-plans.md).
"""
