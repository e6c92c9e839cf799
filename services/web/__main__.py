import uvicorn

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.runtime.logs import configure_logging

settings = WebSettings()
configure_logging("web", settings.log_level)
uvicorn.run(
    create_app(settings),
    host=settings.http_host,
    port=settings.http_port,
    log_config=None,
    proxy_headers=True,
    loop=settings.event_loop,
)
