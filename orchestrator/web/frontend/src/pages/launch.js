export function launchPanel() { return null; }
export function runActions() { return null; }
export function backfillActions() { return null; }
