from services.scheduling.app import create_app
from services.scheduling.settings import SchedulingSettings
from shared.runtime.service import run

settings = SchedulingSettings()
run(lambda: create_app(settings), settings)
