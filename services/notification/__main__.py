from services.notification.app import create_app
from services.notification.settings import NotificationSettings
from shared.runtime.service import run

settings = NotificationSettings()
run(lambda: create_app(settings), settings)
