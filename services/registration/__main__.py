from services.registration.app import create_app
from services.registration.settings import RegistrationSettings
from shared.runtime.service import run

settings = RegistrationSettings()
run(lambda: create_app(settings), settings)
