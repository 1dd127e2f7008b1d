"""The validator's named checks (docs/checks.md is generated from these)."""

from __future__ import annotations

from ..findings import Severity, register

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

# Structure
register("SHEET001", E, "Sheet missing",
         "Every sheet of the workbook contract must be present under its own name.",
         "Restore the sheet or rename it back to the name shown (see docs/workbook.md).")
register("SHEET002", E, "Table missing",
         "xlfund finds each table by its Excel table name, or by a row with its headers.",
         "Restore the table (Insert > Table, then name it in Table Design) or its header row.")
register("SHEET003", E, "Column missing",
         "The calculation needs every contract column; headers are matched by spelling.",
         "Add the column with exactly the header shown, or correct the header's spelling.")
register("SHEET004", INFO, "Table found by its headers",
         "The Excel table name is missing, so the table was found by its header row.",
         "Nothing is wrong; to be safe, make the range an Excel table with the name shown.")
register("SHEET005", E, "Table is empty",
         "A table with no rows gives nothing to allocate or check.",
         "Enter the rows, or restore them from the last good copy of the workbook.")

# Cells
register("CELL001", E, "Excel error value",
         "An error such as #REF! or #DIV/0! in a cell makes every figure depending on it "
         "unreliable.",
         "Correct the formula or the value the error comes from.")
register("CELL002", E, "Formula not calculated",
         "The formula has no saved result, so anything reading the file sees a blank, "
         "not a number.",
         "Open the workbook in Excel and save it (or recalculate it with LibreOffice).")

# Parameters
register("PAR001", E, "Parameter missing",
         "Every parameter of the method must be set exactly once.",
         "Add a row to the Parameters table with the Key shown and its value.")
register("PAR002", E, "Parameter repeated",
         "A key given twice is ambiguous: which value counts?",
         "Delete the extra row so each Key appears once.")
register("PAR003", E, "Parameter value not valid",
         "A value of the wrong kind (text for a number, a number for a date) or out of range "
         "cannot be used.",
         "Enter a value of the kind and range shown in the message.")
register("PAR004", E, "Weights do not add up to 100%",
         "The four factor weights share the pot after lump sums; they must add up to 100%.",
         "Change the weights so that they add up to exactly 100%.")
register("PAR005", W, "Unknown parameter key",
         "xlfund ignores keys it does not know; a misspelt key leaves the real one unset.",
         "Check the spelling against docs/workbook.md, or delete the row.")
register("PAR010", W, "Delegated share differs from the decision",
         "MI 233/12 delegates 75% of the funding to clusters.",
         "Set delegated_share to 75%, unless a later decision changed it (note it in Notes).")
register("PAR011", W, "Delegation start differs from the decision",
         "MI 233/12 delegates to SEND clusters from 1 September 2013.",
         "Set delegation_start to 1 September 2013, unless a later decision changed it.")
register("PAR012", W, "Decommission date differs from the decision",
         "MI 233/12 decommissions the Learning Support Team on 31 August 2013.",
         "Set team_decommissioned to 31 August 2013, unless a later decision changed it.")
register("PAR013", W, "Retained posts far from 9 FTE",
         "MI 233/12 funds approximately 9 FTE countywide posts from the retained 25%.",
         "Check retained_fte_planned and the Retained sheet against the decision.")

# Schools
register("SCH001", E, "URN missing", "Every school is identified by its URN.",
         "Enter the school's 6-digit URN (see Get Information about Schools).")
register("SCH002", E, "URN not 6 digits", "A URN is a 6-digit number.",
         "Correct the URN: 6 digits, no letters or spaces.")
register("SCH003", E, "URN repeated",
         "A school listed twice would be funded twice.",
         "Delete the duplicate row, or correct the URN if they are different schools.")
register("SCH004", E, "School name missing", "Findings and notional amounts name schools.",
         "Enter the school's name.")
register("SCH005", E, "Phase not in the list",
         "Phases come from a fixed list so that reports group schools consistently.",
         "Choose the phase from the drop-down.")
register("SCH006", E, "Cluster ID not known",
         "A school in a cluster missing from the Clusters table would get no money.",
         "Choose a Cluster ID from the drop-down, or add the cluster to the Clusters table.")
register("SCH007", E, "Count is not a number",
         "Pupil counts drive the allocation; text cannot be counted.",
         "Enter a number (0 if there are none).")
register("SCH008", E, "Count is negative", "A school cannot have fewer than 0 pupils.",
         "Enter 0 or more.")
register("SCH009", E, "Pupils on roll not in halves",
         "Pupils on roll counts full-time pupils as 1 and part-time pupils as 0.5.",
         "Enter a whole number or a half (for example 212.5).")
register("SCH010", E, "Count is not a whole number",
         "Ever 6 FSM, SEN support and EHCP counts are numbers of pupils.",
         "Enter a whole number of pupils.")
register("SCH011", E, "Count above pupils on roll",
         "A school cannot have more FSM, SEN support or EHCP pupils than pupils on roll.",
         "Check both figures against the census return and correct the wrong one.")

# Clusters
register("CLU001", E, "Cluster ID repeated", "Each cluster must appear once.",
         "Delete the duplicate row, or give the second cluster its own ID.")
register("CLU002", E, "Cluster has no schools",
         "A cluster with no schools would get only what protection gives it.",
         "Assign schools to it on the Schools sheet, or delete the cluster.")
register("CLU003", E, "Lead school not found",
         "The lead school must be one of the schools on the Schools sheet.",
         "Enter the URN of a school listed on the Schools sheet.")
register("CLU004", E, "Lead school in another cluster",
         "A cluster's lead school must belong to that cluster.",
         "Correct the Lead school URN, or the school's Cluster ID on the Schools sheet.")
register("CLU005", E, "Baseline not valid",
         "Protection compares each cluster with its baseline in whole pounds.",
         "Enter the baseline in pounds (0 or more), or leave it blank for no protection.")
register("CLU006", E, "Cluster ID missing", "Schools are assigned to clusters by ID.",
         "Enter the cluster's ID, or delete the empty row.")
register("CLU007", E, "Cluster name missing", "Statements to clusters show their names.",
         "Enter the cluster's name.")

# Allocation
register("ALLOC001", E, "Cluster missing from the Allocation",
         "Every cluster must receive its allocation.",
         "Run Allocate (or `xlfund allocate`) to rewrite the Allocation sheet.")
register("ALLOC002", E, "Cluster repeated or unknown in the Allocation",
         "A cluster listed twice, or not in the Clusters table, would be paid wrongly.",
         "Run Allocate (or `xlfund allocate`) to rewrite the Allocation sheet.")
register("ALLOC003", E, "Allocation figure differs from the calculation",
         "Each figure is recomputed from the workbook's own inputs; a difference means an "
         "input changed after allocating, or the figure was typed over.",
         "Run Allocate again; never type over the Allocation sheet.")
register("ALLOC004", E, "Allocations do not add up to the pot",
         "The cluster allocations must add up exactly to the pot shared between clusters.",
         "Run Allocate again; never type over the Allocation sheet.")
register("ALLOC005", E, "Shares do not add up to 100%",
         "Each cluster's share of the pot must add up to 100% across clusters.",
         "Run Allocate again.")
register("ALLOC006", E, "Part-year amounts inconsistent with the dates",
         "Sep-Mar amounts must add up to the pot x months funded / 12.",
         "Check delegation_start and the financial year dates, then run Allocate again.")
register("ALLOC007", W, "Allocation not checked",
         "The allocation cannot be recomputed while the inputs have errors.",
         "Fix the errors listed first; the allocation is then checked too.")
register("ALLOC008", E, "Allocation not yet calculated",
         "The Allocation table is empty, so there is nothing to sign off.",
         "Run Allocate (or `xlfund allocate`).")

# Retained posts
register("RET001", E, "Post cost differs from the calculation",
         "Annual cost = FTE x Salary x (1 + On-cost rate) + Non-pay, in whole pounds.",
         "Restore the Annual cost formula, or recalculate the workbook.")
register("RET002", E, "Retained posts overspend the retained pot",
         "The countywide posts must be paid for from the retained share.",
         "Reduce posts or FTE, or revisit the delegated share.")
register("RET003", W, "Retained FTE differs from the plan",
         "The decision plans about 9 FTE; the posts listed add up to something else.",
         "Check the posts against retained_fte_planned.")
register("RET004", E, "Post figure not valid",
         "FTE, salary, on-cost rate and non-pay must be numbers, 0 or more.",
         "Enter a number, 0 or more.")

# Timeline
register("TL001", E, "Timeline date not a date",
         "Milestone dates must be real dates so they can be ordered and checked.",
         "Enter a date (for example 01/09/2013), not text.")
register("TL002", E, "Milestone ends before it starts", "An end date must not precede the start.",
         "Correct the Start or End date.")
register("TL003", W, "Timeline not in date order",
         "Milestones are read in order of their start dates.",
         "Sort the Timeline table by Start.")
