from sika.cli import app

app(prog_name="sika")
