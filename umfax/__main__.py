from umfax.cli.main import run

run()
