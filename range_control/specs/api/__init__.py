"""Request and response bodies of ``/api/v1``, by feature; the OpenAPI document is generated
from these."""
