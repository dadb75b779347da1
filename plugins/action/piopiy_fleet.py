# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The action of piopiy.voice.piopiy_fleet: the module's code, run in the controller's worker when the task's connection is local
(plugin_utils/worker_module.py), else the module. A fleet task is one run over hundreds of environments, where Ansible's cost
of running a module (about a second at 200 environments) outweighs the task's own reads."""

from __future__ import annotations

from ansible_collections.piopiy.voice.plugins.module_utils.piopiy_fleet_run import fleet_argument_spec, run_fleet
from ansible_collections.piopiy.voice.plugins.plugin_utils.worker_module import WorkerModuleAction


class ActionModule(WorkerModuleAction):

    module_name = 'piopiy.voice.piopiy_fleet'
    options = staticmethod(fleet_argument_spec)

    @staticmethod
    def run_module(module):
        module.exit_json(**run_fleet(module))
