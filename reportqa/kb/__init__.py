"""The YAML knowledge base: one module per job.

- `schema`: the keys of each file, YAML ⇄ dataclasses, the one serialiser
- `layout`: the folder's layout and atomic writes
- `validate`: the folder checked as a whole, problems as `path:line: message`
- `repository`: the lock, history, audit log and crash recovery every change goes through
- `changes`: what admins do (add or remove a report or fact, rebuild from the raw texts)
- `open`: a folder opened as a ready Engine, the index cached beside the YAML
- `live`: the engine a running bot answers with, swapped when the folder changes
"""
