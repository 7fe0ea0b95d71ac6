"""Typed dependencies of the routes. The answerer is read from ``app.state`` once per request, so a
request is answered from the index it started with even when a hot reload swaps in a new one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.core.answer import Answerer
from service.db import Database
from service.settings import Settings
from service.web.widget import WidgetScript


def get_answerer(request: Request) -> Answerer:
    answerer: Answerer = request.app.state.answerer
    return answerer


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_widget(request: Request) -> WidgetScript:
    script: WidgetScript = request.app.state.widget
    return script


AnswererDep = Annotated[Answerer, Depends(get_answerer)]
DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
WidgetDep = Annotated[WidgetScript, Depends(get_widget)]
