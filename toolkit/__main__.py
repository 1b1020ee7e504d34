from toolkit.cli import app

app(prog_name="toolkit")
