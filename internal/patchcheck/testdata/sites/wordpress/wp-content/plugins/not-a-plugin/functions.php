<?php
// A folder without any plugin header: WordPress does not list it.
