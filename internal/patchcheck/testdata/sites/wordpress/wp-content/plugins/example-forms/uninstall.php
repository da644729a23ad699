<?php
// no header here
