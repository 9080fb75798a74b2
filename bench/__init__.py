"""The HTTP benchmark of issue 6: the production app against its N+1, features-off and
hand-written floor variants, each a real uvicorn process. Run it with `./scripts/bench`."""
