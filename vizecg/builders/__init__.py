"""Builders: jobs that run the stages below them (data -> render -> photo) and write what they make to disk: render
folders (render_job, `vizecg render`) and contact sheets (gallery, `vizecg render --gallery`).

They sit above vizecg.render and vizecg.photo, which never import them: those stages import only downward. What a
render folder holds is read back by vizecg.data.RenderFolder.
"""
