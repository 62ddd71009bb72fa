from modelcard.cli import run

run()
