#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: piopiy.voice contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Build the collection's docs site (`make docs`): antsibull-docs and Sphinx, warnings as errors.

The site has what `ansible-doc` shows (a page per plugin with its option and return tables, the role's entry
points) and the user guide. The guide is written in Markdown (docs/<name>.md), read as is on the git host and
tested by tests/docs. antsibull-docs, Galaxy and docs.ansible.com take a collection's extra docs in
reStructuredText only, from docs/docsite/rst/ of the collection, so each page that docs/docsite/extra-docs.yml
lists is converted (pandoc, from pypandoc-binary) into docs/docsite/rst/<name>.rst, which is generated, committed
and shipped, as CHANGELOG.rst is. Links between guide pages become Sphinx references; other relative links (to
files of the repository, which the site does not have) keep their text only; web addresses stay links.

Usage: build_docs.py guide           write docs/docsite/rst/ from the Markdown pages (`make guide`)
       build_docs.py check           fail when docs/docsite/rst/ is not what `guide` would write
       build_docs.py site OUTPUT     check, then build the HTML site into OUTPUT (`make docs`); the work files
                                     go to OUTPUT/../docs-work
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pypandoc
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
LABEL_PREFIX = 'ansible_collections.piopiy.voice.docsite.'
MARKDOWN_LINK = re.compile(r'\[(?P<text>[^\]]+)\]\((?P<target>[^)\s]+)\)')
# pandoc labels a heading whose text makes no plain identifier (one that starts with a digit); antsibull-docs
# accepts only the collection's own labels, and no page links to a heading.
OTHER_LABEL = re.compile(r'^\.\. _(?!%s)[^:]+:\n\n' % re.escape('ansible_collections.'), re.MULTILINE)
# Every plugin page says to install the collection from Galaxy, where it is not (yet): say how instead.
GALAXY_INSTALL = re.compile(r'To install it, use: :code:`ansible\\?-galaxy collection install piopiy\.voice`\.')
NOT_ON_GALAXY = ('It is not on Ansible Galaxy yet: build it from a clone, or install it from your own git server, '
                 'as the collection\'s README.md says ("Install").')
SITE_TITLE = 'piopiy.voice: Piopiy Voice AI agents as code'


def guide_pages(root=ROOT):
    """The page names of docs/docsite/extra-docs.yml, in order."""
    config = yaml.safe_load((root / 'docs' / 'docsite' / 'extra-docs.yml').read_text(encoding='utf-8'))
    return [name for section in config['sections'] for name in section['toctree']]


def rewrite_link(match, pages):
    """A Markdown link as the site has it: web addresses as they are, another guide page as its page of the site
    (a sibling, docsite/<name>.html), any other file of the repository as its text alone."""
    text, target = match.group('text'), match.group('target')
    if re.match(r'[a-z][a-z0-9+.-]*:', target):  # https:, mailto:
        return match.group(0)
    page = re.fullmatch(r'(?:\./)?(?P<name>[a-z0-9-]+)\.md(?P<anchor>#.*)?', target)
    if page and page.group('name') in pages:
        return '[%s](%s.html%s)' % (text, page.group('name'), page.group('anchor') or '')
    return text


def markdown_to_rst(name, markdown, pages):
    """One guide page as an antsibull-docs extra doc: its label, then the page in reStructuredText."""
    markdown = MARKDOWN_LINK.sub(lambda match: rewrite_link(match, pages), markdown)
    body = pypandoc.convert_text(markdown, 'rst', format='gfm', extra_args=['--wrap=none'])
    return '.. _%s%s:\n\n%s' % (LABEL_PREFIX, name, OTHER_LABEL.sub('', body))


# Labels of the Ansible documentation that antsibull-docs' pages refer to. docs.ansible.com's intersphinx inventory
# cannot be fetched offline, so one page of the site defines them, each linking to the page on docs.ansible.com.
ANSIBLE_REFERENCES = {
    'callback_plugins': ('Callback plugins', 'plugins/callback.html'),
    'ansible_configuration_settings': ('Ansible configuration settings', 'reference_appendices/config.html'),
    'common_return_values': ('Return values common to all modules', 'reference_appendices/common_return_values.html'),
}


def ansible_references():
    sections = []
    for label, (title, page) in sorted(ANSIBLE_REFERENCES.items()):
        sections.append('.. _%s:\n\n%s\n%s\n\nSee `%s <https://docs.ansible.com/projects/ansible/latest/%s>`__ in the Ansible documentation.\n'
                        % (label, title, '-' * len(title), title, page))
    return ':orphan:\n\nThe Ansible documentation\n=========================\n\n' + '\n'.join(sections)


def stage_collection(target):
    """A copy of the tree as a fresh clone has it, under ansible_collections/piopiy/voice."""
    collection = target / 'ansible_collections' / 'piopiy' / 'voice'
    shutil.rmtree(target, ignore_errors=True)
    collection.mkdir(parents=True)
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=ROOT,
                           check=True, capture_output=True).stdout
    for name in filter(None, files.decode('utf-8').split('\0')):
        source = ROOT / name
        if source.is_file():
            (collection / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, collection / name)
    return collection


def guide_rst(root=ROOT):
    """{file name in docs/docsite/rst: its text} for every page of extra-docs.yml."""
    pages = guide_pages(root)
    missing = [name for name in pages if not (root / 'docs' / (name + '.md')).is_file()]
    if missing:
        sys.exit('docs/docsite/extra-docs.yml lists pages that do not exist: %s. Fix: add docs/<name>.md for each, '
                 'or remove it from extra-docs.yml' % ', '.join('docs/%s.md' % name for name in missing))
    return {name + '.rst': markdown_to_rst(name, (root / 'docs' / (name + '.md')).read_text(encoding='utf-8'), pages)
            for name in pages}


def write_guide(root=ROOT):
    rst = root / 'docs' / 'docsite' / 'rst'
    shutil.rmtree(rst, ignore_errors=True)
    rst.mkdir(parents=True)
    for name, text in guide_rst(root).items():
        (rst / name).write_text(text, encoding='utf-8')


def stale_guide(root=ROOT):
    """The files of docs/docsite/rst that differ from what write_guide would write (missing and extra ones too)."""
    rst = root / 'docs' / 'docsite' / 'rst'
    expected = guide_rst(root)
    present = {path.name: path.read_text(encoding='utf-8') for path in rst.glob('*')} if rst.is_dir() else {}
    return sorted(name for name in set(expected) | set(present) if expected.get(name) != present.get(name))


def check_guide():
    stale = stale_guide()
    if stale:
        sys.exit('docs/docsite/rst/ is out of date with docs/*.md (%s). Fix: make guide, and commit the result'
                 % ', '.join(stale))


def build_site(output):
    check_guide()
    output = pathlib.Path(output).resolve()
    work = output.parent / 'docs-work'
    stage_collection(work / 'collections')
    site = work / 'site'
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(work / 'collections'),
                       PATH='%s%s%s' % (BIN, os.pathsep, os.environ.get('PATH', '')))
    # No intersphinx: the build runs offline, and the pages link to docs.ansible.com by address where they need to.
    subprocess.run([str(BIN / 'antsibull-docs'), 'sphinx-init', '--use-current', '--squash-hierarchy', '--fail-on-error',
                    '--dest-dir', str(site), '--project', 'piopiy.voice', '--copyright', 'piopiy.voice contributors',
                    '--title', SITE_TITLE, '--html-short-title', 'piopiy.voice', '--no-add-antsibull-docs-version',
                    'piopiy.voice'],
                   cwd=site, env=environment, check=True, stdout=subprocess.DEVNULL)
    with open(site / 'conf.py', 'a', encoding='utf-8') as conf:
        conf.write('\n# build_docs.py: offline, so no intersphinx inventories to fetch.\nintersphinx_mapping = {}\n')
    # What the build.sh of sphinx-init runs, with the Ansible docs' labels added between its two steps.
    rst = site / 'rst'  # sphinx-init wrote its index.rst there
    os.chmod(rst, 0o755)  # antsibull-docs wants the directory writable by its owner only
    subprocess.run([str(BIN / 'antsibull-docs'), '--config-file', 'antsibull-docs.cfg', 'collection', '--cleanup', 'everything',
                    '--fail-on-error', '--use-current', '--squash-hierarchy', '--dest-dir', 'rst', 'piopiy.voice'],
                   cwd=site, env=environment, check=True)
    (rst / 'ansible_references.rst').write_text(ansible_references(), encoding='utf-8')
    replaced = 0
    for page in rst.glob('*.rst'):
        text, count = GALAXY_INSTALL.subn(NOT_ON_GALAXY, page.read_text(encoding='utf-8'))
        page.write_text(text, encoding='utf-8')
        replaced += count
    if not replaced:
        sys.exit('no plugin page says "To install it, use: ansible-galaxy collection install": update GALAXY_INSTALL')
    subprocess.run([str(BIN / 'sphinx-build'), '-M', 'html', 'rst', 'build', '-c', '.', '-W', '--keep-going', '-q'],
                   cwd=site, env=environment, check=True)
    shutil.rmtree(output, ignore_errors=True)
    shutil.copytree(site / 'build' / 'html', output)
    print('the docs site is in %s (open index.html)' % output)


def main(arguments):
    if arguments == ['guide']:
        write_guide()
    elif arguments == ['check']:
        check_guide()
    elif len(arguments) == 2 and arguments[0] == 'site':
        build_site(arguments[1])
    else:
        sys.exit(__doc__[__doc__.index('Usage:'):])


if __name__ == '__main__':
    main(sys.argv[1:])
