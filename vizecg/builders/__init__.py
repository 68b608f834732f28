"""Builders: jobs that write datasets to disk by running the stages below them (data -> render -> photo).

They sit above vizecg.render and vizecg.photo so that those import only downward; the CLI, the benchmarks and
the tests import them, never the stages they drive. What they write is read back by vizecg.data.RenderFolder.
"""
