"""Every component id of the dashboard, in one place.

Callbacks and layouts import these constants instead of repeating string literals, and browser
tests use them to find elements (``#`` + id). Ids are grouped by where the component lives:
the shell (``app.py``, present on every page) and each page.
"""

from __future__ import annotations

# ---------------------------------------------------------------- shell (dashboard/web/app.py)
CASE = "shell-case"  # dcc.Store: the case id the page shows (from ?case=, dashboard/web/cases.py)
CASE_PICKER = "shell-case-picker"  # dcc.Dropdown in the top bar: every loaded case
CASE_NAV = "shell-case-nav"  # dcc.Location (refresh): loads the page for the picked case
RUN_STATE = "shell-run-state"  # dcc.Store: {"latest", "running", "n_records", "n_reviews"} of the case
FIT_REQUEST = "shell-fit-request"  # dcc.Store: set to start a background fit
FIT_RESULT = "shell-fit-result"  # dcc.Store: outcome of the last background fit
OBS_VERSION = "shell-obs-version"  # dcc.Store: bumped whenever observations change here
POLL = "shell-poll"  # dcc.Interval: re-reads the run state (other writers)
RUN_BAR = "shell-run-bar"  # run id, as-of, diagnostics and stale labels
NAV = "shell-nav"
FIT_PROGRESS_BOX = "shell-fit-progress-box"  # the running fit's bar, on every page (hidden otherwise)
FIT_PROGRESS = "shell-fit-progress"  # html.Progress
FIT_PROGRESS_LABEL = "shell-fit-progress-label"  # stage, percent and estimate
FIT_POLL = "shell-fit-poll"  # dcc.Interval: re-reads the bar while a fit runs
URL = "shell-url"  # dcc.Location

# ---------------------------------------------------------------- Overview (pages/overview.py)
OV_HORIZON = "overview-horizon"  # dcc.RadioItems: horizon in years
OV_CONTENT = "overview-content"  # outcome cards
OV_REFIT = "overview-refit"  # button "Refit"
OV_PROGRESS = FIT_PROGRESS  # the Overview shows the shell's bar of the running fit
OV_PROGRESS_LABEL = FIT_PROGRESS_LABEL
OV_PROGRESS_BOX = FIT_PROGRESS_BOX  # shown while a fit runs
OV_FIT_MESSAGE = "overview-fit-message"  # result or failure of the last fit
OV_AUTOFIT = "overview-autofit"  # dcc.Store: set once to start a first fit
OV_FAST_UPDATE = "overview-fast-update"  # fast update (PSIS) of the current run by newer records
OV_STALE = "overview-stale"  # the stale-series warning (series not reviewed for too long)

# ---------------------------------------------------------------- Indicators (pages/indicators.py)
IND_SELECT = "indicators-select"  # dcc.Dropdown (multi): charts shown
IND_CHARTS = "indicators-charts"
IND_TABLE = "indicators-table"  # dash_table.DataTable of observations
IND_TABLE_NOTE = "indicators-table-note"
IND_STALE = "indicators-stale"  # the stale-series warning (series not reviewed for too long)

REVIEW_PANEL = "review-panel"  # the "Mark a series reviewed" form (section; also its #anchor)
REVIEW_INDICATOR = "review-indicator"  # dcc.Dropdown: the open-coverage series
REVIEW_THROUGH = "review-through"  # reviewed-through date (text, YYYY-MM-DD; default today)
REVIEW_BUTTON = "review-button"  # "Mark reviewed"
REVIEW_MESSAGE = "review-message"
REVIEW_TABLE = "review-table"  # every open-coverage series and its reviewed-through date

ADD_INDICATOR = "add-indicator"
ADD_INDICATOR_LIST = "add-indicator-list"  # html.Datalist of indicator ids
ADD_DATE = "add-date"
ADD_END = "add-end"
ADD_VALUE = "add-value"
ADD_SOURCE = "add-source"
ADD_RELIABILITY = "add-reliability"
ADD_CREDIBILITY = "add-credibility"
ADD_NOTE = "add-note"
ADD_BUTTON = "add-button"  # "Add observation"
ADD_MESSAGE = "add-message"

UPLOAD = "upload-csv"  # dcc.Upload
UPLOAD_MESSAGE = "upload-message"

EDIT_SELECTED = "edit-selected"  # which observation is selected in the table
EDIT_FIELD = "edit-field"  # field to correct
EDIT_VALUE = "edit-value"  # corrected entry
EDIT_REASON = "edit-reason"
CORRECT_BUTTON = "edit-correct"  # "Correct observation"
RETRACT_BUTTON = "edit-retract"  # "Retract observation"
EDIT_MESSAGE = "edit-message"

# ---------------------------------------------------------------- Model (pages/model.py)
MODEL_CONTENT = "model-content"

# ---------------------------------------------------------------- Backtest (pages/backtest.py)
BT_CONTENT = "backtest-content"
BT_TARGETS = "backtest-targets"  # targets met / missed
BT_INDICATORS = "backtest-indicators"  # table of scores per indicator
BT_OUTCOMES = "backtest-outcomes"  # table of scores per outcome

# ---------------------------------------------------------------- Reports (pages/reports.py)
RP_RUN = "reports-run"  # dcc.RadioItems: the run to report on
RP_SUMMARY = "reports-summary"  # identity and health of the chosen run
RP_BUTTONS = "reports-buttons"
RP_BUTTON = "reports-download-"  # + format: "Download HTML report", ... (one per format)
RP_DOWNLOAD = "reports-download"  # dcc.Download
RP_MESSAGE = "reports-message"  # what was downloaded, or why not
RP_BUSY = "reports-busy"  # shown while a file is made (buttons disabled)

# ---------------------------------------------------------------- Scenarios (pages/scenarios.py)
SC_SELECT = "scenarios-select"  # dcc.Dropdown: case-file and saved scenarios
SC_DESCRIPTION = "scenarios-description"  # the chosen scenario's description and source
SC_TABLE = "scenarios-observations"  # editable DataTable of hypothetical observations
SC_ADD_ROW = "scenarios-add-row"  # button "Add a row"
SC_NAME = "scenarios-name"  # name to save the table under
SC_SAVE_DESCRIPTION = "scenarios-save-description"
SC_SAVE = "scenarios-save"  # button "Save scenario"
SC_SAVE_MESSAGE = "scenarios-save-message"
SC_SAVED_VERSION = "scenarios-saved-version"  # dcc.Store: bumped when a scenario is saved
SC_RUN = "scenarios-run"  # button "Run scenario"
SC_RESULT = "scenarios-result"  # dcc.Store: the fast path's result document
SC_REFIT_REQUEST = "scenarios-refit-request"  # dcc.Store: a refit asked for (k-hat > 0.7)
SC_REFIT_RESULT = "scenarios-refit-result"  # dcc.Store: the background refit's result document
SC_PROGRESS_BOX = "scenarios-progress-box"
SC_PROGRESS = "scenarios-progress"
SC_PROGRESS_LABEL = "scenarios-progress-label"
SC_MESSAGE = "scenarios-message"  # errors and notes of the last run
SC_SUMMARY = "scenarios-summary"  # method, k-hat, run
SC_COMPARISON = "scenarios-comparison"  # table: baseline vs scenario per outcome and horizon
SC_CHART = "scenarios-chart"  # dcc.Graph: baseline vs scenario

# ---------------------------------------------------------------- Overview: why it moved, alerts
OV_EXPLAIN = "overview-explain"  # "Why it moved" panel
OV_ALERTS = "overview-alerts"  # fired alerts and alert states
OV_ALERT_VERSION = "overview-alert-version"  # dcc.Store: bumped when an alert is added or removed
OV_ALERT_OUTCOME = "overview-alert-outcome"  # add-alert form: outcome (dropdown)
OV_ALERT_HORIZON = "overview-alert-horizon"  # horizon in years
OV_ALERT_KIND = "overview-alert-kind"  # above / below / change
OV_ALERT_THRESHOLD = "overview-alert-threshold"  # percent or points
OV_ALERT_ADD = "overview-alert-add"  # button "Add alert"
OV_ALERT_REMOVE = "overview-alert-remove"  # pattern {"type": OV_ALERT_REMOVE, "alert": id}: a row's "Remove" button
OV_ALERT_MESSAGE = "overview-alert-message"

# ---------------------------------------------------------------- Watch list (pages/watch.py)
WL_OUTCOME = "watch-outcome"  # dcc.Dropdown: the outcome ranked for
WL_HORIZON = "watch-horizon"  # dcc.RadioItems: horizon in years
WL_PERIOD = "watch-period"  # dcc.RadioItems: next quarter / next 4 quarters
WL_THRESHOLD = "watch-threshold"  # tripwire level in percent (blank: the default)
WL_CONTENT = "watch-content"  # header, ranking table, tripwires
WL_RANKING = "watch-ranking"  # the ranking table
WL_TRIPWIRES = "watch-tripwires"  # the tripwire sentences
WL_POLL = "watch-poll"  # dcc.Interval: re-reads while the list is computed
