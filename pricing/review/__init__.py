"""The review web app: pricing managers review, approve, edit and export suggested prices."""
