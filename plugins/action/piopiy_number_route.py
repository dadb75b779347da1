# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The action of piopiy.voice.piopiy_number_route: the module's code, run in the controller's worker when the task's connection is local
(plugin_utils/worker_module.py), else the module."""

from __future__ import annotations

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_route_task import ROUTE_OPTION_RULES, route_argument_spec, run_route
from ansible_collections.piopiy.voice.plugins.plugin_utils.worker_module import WorkerModuleAction


class ActionModule(WorkerModuleAction):

    module_name = 'piopiy.voice.piopiy_number_route'
    option_rules = ROUTE_OPTION_RULES
    options = staticmethod(route_argument_spec)
    run_module = staticmethod(run_route)
