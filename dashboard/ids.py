"""Every component id of the dashboard, in one place.

Callbacks and layouts import these constants instead of repeating string literals, and browser
tests use them to find elements (``#`` + id). Ids are grouped by where the component lives:
the shell (``app.py``, present on every page) and each page.
"""

from __future__ import annotations

# ---------------------------------------------------------------- shell (dashboard/app.py)
CASE = "shell-case"                  # dcc.Store: the case id the app shows
RUN_STATE = "shell-run-state"        # dcc.Store: {"latest", "running", "n_records"} of the case
FIT_REQUEST = "shell-fit-request"    # dcc.Store: set to start a background fit
FIT_RESULT = "shell-fit-result"      # dcc.Store: outcome of the last background fit
OBS_VERSION = "shell-obs-version"    # dcc.Store: bumped whenever observations change here
POLL = "shell-poll"                  # dcc.Interval: re-reads the run state (other writers)
RUN_BAR = "shell-run-bar"            # run id, as-of, diagnostics and stale labels
NAV = "shell-nav"
URL = "shell-url"                    # dcc.Location

# ---------------------------------------------------------------- Overview (pages/overview.py)
OV_HORIZON = "overview-horizon"              # dcc.RadioItems: horizon in years
OV_CONTENT = "overview-content"              # outcome cards
OV_REFIT = "overview-refit"                  # button "Refit"
OV_PROGRESS = "overview-progress"            # html.Progress of the running fit
OV_PROGRESS_LABEL = "overview-progress-label"
OV_PROGRESS_BOX = "overview-progress-box"    # shown while a fit runs
OV_FIT_MESSAGE = "overview-fit-message"      # result or failure of the last fit
OV_AUTOFIT = "overview-autofit"              # dcc.Store: set once to start a first fit

# ---------------------------------------------------------------- Indicators (pages/indicators.py)
IND_SELECT = "indicators-select"             # dcc.Dropdown (multi): charts shown
IND_CHARTS = "indicators-charts"
IND_TABLE = "indicators-table"               # dash_table.DataTable of observations
IND_TABLE_NOTE = "indicators-table-note"

ADD_INDICATOR = "add-indicator"
ADD_INDICATOR_LIST = "add-indicator-list"    # html.Datalist of indicator ids
ADD_DATE = "add-date"
ADD_END = "add-end"
ADD_VALUE = "add-value"
ADD_SOURCE = "add-source"
ADD_RELIABILITY = "add-reliability"
ADD_CREDIBILITY = "add-credibility"
ADD_NOTE = "add-note"
ADD_BUTTON = "add-button"                    # "Add observation"
ADD_MESSAGE = "add-message"

UPLOAD = "upload-csv"                        # dcc.Upload
UPLOAD_MESSAGE = "upload-message"

EDIT_SELECTED = "edit-selected"              # which observation is selected in the table
EDIT_FIELD = "edit-field"                    # field to correct
EDIT_VALUE = "edit-value"                    # corrected entry
EDIT_REASON = "edit-reason"
CORRECT_BUTTON = "edit-correct"              # "Correct observation"
RETRACT_BUTTON = "edit-retract"              # "Retract observation"
EDIT_MESSAGE = "edit-message"

# ---------------------------------------------------------------- Model (pages/model.py)
MODEL_CONTENT = "model-content"
