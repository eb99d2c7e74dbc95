"""Getting the functions onto Function Compute: the package builder and the Serverless Devs template reader.

Never deployed itself (it needs PyYAML and pip). :mod:`~osscallback.deploy.build` decides what goes into each
function's code package by subpackage; :mod:`~osscallback.deploy.fcyaml` reads ``template.yml`` /
``template.fc3.yml``, for the build and for the local FC host. It imports only ``osscallback.errors``.
"""
